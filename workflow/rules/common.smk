# Config loading, the keyed stage registry and wildcard constraints.
# All config logic lives in sauti.workflow.registry / sauti.config.resolve; rules only ask the registry.
import sys

from sauti.stages import STAGES
from sauti.workflow import (
    jobs,
)  # the light rules' run: blocks (jobs in threads of this process)
from sauti.config.schema import ConfigError
from sauti.workflow.registry import registry_from_snakemake

try:
    REG = registry_from_snakemake(config, workflow.configfiles)
except ConfigError as err:
    sys.stderr.write(f"sauti: config error: {err}\n")
    sys.exit(1)

ROOT = REG.root


wildcard_constraints:
    key="[0-9a-f]{12}",
    shard=r"\d+",
    n=r"\d+",
    name=r"[A-Za-z0-9][A-Za-z0-9_.+-]*",
