# SEGMENT: speech segments of the split table's recordings (sauti.segment). Keyed by the
# SEGMENT slice and the split key; later stages read segments.parquet instead of the split.

SEGMENTS = REG.spec("segment")


rule segment:
    """VAD segments of SEGMENT.databases / sample_selection (labels and split inherited)."""
    input:
        split=SEGMENTS.split,
    output:
        segments=f"{ROOT}/cache/segment/{{key}}/segments.parquet",
        manifest=f"{ROOT}/cache/segment/{{key}}/segment.json",
        plot=f"{ROOT}/cache/segment/{{key}}/durations.png",
    log:
        f"{ROOT}/cache/segment/{{key}}/segment.log",
    conda:
        "../../envs/sauti.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cfg=REG.params("segment"),
        token=SEGMENTS.token,
    script:
        "../scripts/segment.py"
