"""`python -m sauti.ensemble --config exp.ini`: Nkululeko's ensemble module, as `sauti ensemble` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("ensemble")
