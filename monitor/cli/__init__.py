"""The top layer: the ``netmon`` command (``monitor.cli.main``), its subcommands' modules and
what they share (``monitor.cli.common``)."""

__all__: list[str] = []
