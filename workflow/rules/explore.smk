rule explore:
    """Dataset statistics, bias check, value counts and feature plots (EXPL section)."""
    input:
        unpack(REG.spec("explore").inputs),
    output:
        manifest=f"{ROOT}/cache/explore/{{key}}/explore.json",
    log:
        f"{ROOT}/cache/explore/{{key}}/explore.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        cfg=REG.params("explore"),
    script:
        "../scripts/explore.py"
