"""`python -m sauti.demo --config exp.ini ...`: Nkululeko's demo module, as `sauti demo` (sauti.app.model_cli)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("demo")
