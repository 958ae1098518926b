"""`python -m sauti.resample --config exp.ini`: Nkululeko's resample module, as `sauti resample` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("resample")
