"""`python -m sauti.segment --config exp.ini`: Nkululeko's segment module, as `sauti segment` (sauti.app.cli)."""

if __name__ == "__main__":
    from sauti.app.cli import module_main

    module_main("segment")
