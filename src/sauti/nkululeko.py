"""`python -m sauti.nkululeko --config exp.ini`: Nkululeko's nkululeko module, as `sauti nkululeko` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("nkululeko")
