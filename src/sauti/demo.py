"""`python -m sauti.demo --config exp.ini ...`: Nkululeko's demo module, as `sauti demo` (sauti.model_cli)."""

if __name__ == "__main__":
    from sauti.nk_commands import module_main

    module_main("demo")
