# RESAMPLE: Nkululeko's resample module, built only when `sauti resample` asks for it. Keyed
# by the experiment's data table and EXP.sample_selection.


rule resample:
    """The data table's audio as 16 kHz mono wavs and a table of them (sauti.resample)."""
    input:
        data=REG.composite.resample_inputs,
    output:
        table=f"{ROOT}/cache/resample/{{key}}/resampled.parquet",
    log:
        f"{ROOT}/cache/resample/{{key}}/resample.log",
    conda:
        "../../envs/sauti.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        cfg=REG.params("resample"),
    script:
        "../scripts/resample.py"
