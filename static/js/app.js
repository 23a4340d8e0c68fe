// Opportune's own behaviour; every page works without it.
