"""`python -m sauti.nkululeko --config exp.ini`: Nkululeko's nkululeko module, as `sauti nkululeko` (sauti.app.nk_commands)."""

if __name__ == "__main__":
    from sauti.app.nk_commands import module_main

    module_main("nkululeko")
