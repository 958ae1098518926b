"""sauti: cached, Snakemake-driven experiments on speaker characteristics."""

import atexit
import gc

__version__ = "0.1.0"

# Every process that imports sauti (Snakemake's, a job's, the `sauti` command) holds the
# scientific stack: pandas, scikit-learn, matplotlib, Snakemake. At exit the interpreter's last
# garbage collections walk all of their objects, 0.3-0.6 s of a run that the OS would free
# anyway. Frozen objects are not walked; atexit functions, logging's flush and the finalizers
# that reference counting runs are unaffected (tests/test_exit.py).
atexit.register(gc.freeze)
