"""`python -m sauti.ensemble --config exp.ini`: Nkululeko's ensemble module, as `sauti ensemble` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("ensemble")
