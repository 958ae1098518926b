"""`python -m sauti.multidb --config exp.ini`: Nkululeko's multidb module, as `sauti multidb` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("multidb")
