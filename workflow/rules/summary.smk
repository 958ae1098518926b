# GRID / experiment lists and MULTIDB: summaries over experiments of one DAG. They read the
# members' keyed evaluate outputs; the experiments themselves are ordinary keyed stages.


localrules:
    grid_summary,
    multidb_summary,


rule grid_summary:
    """Compare a grid's (or a list's) experiments: table (CSV, markdown) and plot."""
    input:
        metrics=REG.composite.grid_inputs,
    output:
        table=f"{ROOT}/{{name}}/grid/summary.csv",
        markdown=f"{ROOT}/{{name}}/grid/summary.md",
        plot=f"{ROOT}/{{name}}/grid/summary.png",
    log:
        f"{ROOT}/{{name}}/grid/summary.log",
    wildcard_constraints:
        name=REG.composite.pattern("grid"),
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=REG.composite.grid_params,
    run:
        jobs.grid_summary(
            input, output, params, log
        )  # in this process (sauti.workflow.jobs)


rule multidb_summary:
    """Train-database x test-database matrix of test scores, and its heat map."""
    input:
        metrics=REG.composite.multidb_inputs,
    output:
        matrix=f"{ROOT}/{{name}}/multidb/matrix.csv",
        markdown=f"{ROOT}/{{name}}/multidb/matrix.md",
        cells=f"{ROOT}/{{name}}/multidb/cells.csv",
        plot=f"{ROOT}/{{name}}/multidb/heatmap.png",
    log:
        f"{ROOT}/{{name}}/multidb/summary.log",
    wildcard_constraints:
        name=REG.composite.pattern("multidb"),
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cfg=REG.composite.multidb_params,
    run:
        jobs.multidb_summary(
            input, output, params, log
        )  # in this process (sauti.workflow.jobs)
