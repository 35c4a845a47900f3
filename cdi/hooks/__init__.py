"""The CDI hooks, one module each (spec section 5)."""
