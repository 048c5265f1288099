"""Ray Serve: aezoo's HTTP app as a Ray Serve deployment (needs ``aezoo[ray]``)."""
