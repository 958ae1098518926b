"""`python -m sauti.explore --config exp.ini`: Nkululeko's explore module, as `sauti explore` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("explore")
