"""`python -m sauti.resample --config exp.ini`: Nkululeko's resample module, as `sauti resample` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("resample")
