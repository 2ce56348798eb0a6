"""Opening hours: the weekly schedule (`week`, pure) and what /hours shows (`status`)."""
