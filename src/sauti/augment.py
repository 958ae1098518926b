"""`python -m sauti.augment --config exp.ini`: Nkululeko's augment module, as `sauti augment` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("augment")
