"""One module per `ctrlens` subcommand; see ctrlens.cli for the interface."""
