"""`python -m sauti.multidb --config exp.ini`: Nkululeko's multidb module, as `sauti multidb` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("multidb")
