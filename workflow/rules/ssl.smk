# SSL: self-supervised speaker embeddings from the experiment's unlabelled audio (all its
# databases' samples tables). Stage I, then one keyed stage per round whose key holds the
# previous round's, so raising SSL.rounds runs only the new rounds (and the evaluation).

SSL = REG.spec("ssl")


localrules:
    ssl_results,


rule ssl_pretrain:
    """Stage I: contrastive pre-training of the speaker encoder(s) on two segments per utterance."""
    input:
        unpack(SSL.pretrain_inputs),
    output:
        encoders=f"{ROOT}/cache/ssl_pretrain/{{key}}/encoders.pt",
        utterances=f"{ROOT}/cache/ssl_pretrain/{{key}}/utterances.parquet",
        history=f"{ROOT}/cache/ssl_pretrain/{{key}}/history.csv",
    log:
        f"{ROOT}/cache/ssl_pretrain/{{key}}/ssl_pretrain.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=SSL.gpu("ssl_pretrain"),
    params:
        cfg=SSL.params("ssl_pretrain"),
    script:
        "../scripts/ssl_pretrain.py"


rule ssl_round:
    """Stage II round: k-means pseudo speakers, then AAM-softmax training on them."""
    input:
        unpack(SSL.round_inputs),
    output:
        encoders=f"{ROOT}/cache/ssl_round/{{key}}/encoders.pt",
        summary=f"{ROOT}/cache/ssl_round/{{key}}/round.json",
        labels=f"{ROOT}/cache/ssl_round/{{key}}/pseudo_labels.parquet",
        history=f"{ROOT}/cache/ssl_round/{{key}}/history.csv",
    log:
        f"{ROOT}/cache/ssl_round/{{key}}/ssl_round.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
        gpu=SSL.gpu("ssl_round"),
    params:
        cfg=SSL.params("ssl_round"),
    script:
        "../scripts/ssl_round.py"


rule ssl_eval:
    """EER per stage on held-out speakers, with an untrained encoder and resemblyzer."""
    input:
        unpack(SSL.eval_inputs),
    output:
        manifest=f"{ROOT}/cache/ssl_eval/{{key}}/ssl.json",
        table=f"{ROOT}/cache/ssl_eval/{{key}}/ssl_rounds.csv",
        plot=f"{ROOT}/cache/ssl_eval/{{key}}/ssl_eer.png",
    log:
        f"{ROOT}/cache/ssl_eval/{{key}}/ssl_eval.log",
    conda:
        "../../envs/sauti-deep.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=SSL.gpu("ssl_eval"),
    params:
        cfg=SSL.params("ssl_eval"),
    script:
        "../scripts/ssl_eval.py"


rule ssl_results:
    """Publish the EER table, plot and summary to <root>/<name>/ssl/ (not cached)."""
    input:
        manifest=SSL.results_input,
    output:
        summary=f"{ROOT}/{{name}}/ssl/ssl.json",
        table=f"{ROOT}/{{name}}/ssl/ssl_rounds.csv",
        plot=f"{ROOT}/{{name}}/ssl/ssl_eer.png",
    log:
        f"{ROOT}/{{name}}/ssl/ssl_results.log",
    wildcard_constraints:
        name=REG.composite.pattern("experiment"),
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/ssl_results.py"
