"""Settings -> one adapter each, by area; the container (`bootstrap.composition`) calls them."""
