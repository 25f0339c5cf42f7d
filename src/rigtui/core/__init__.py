"""Pure fit, placement, speed, compatibility, power and upgrade computations over plain data."""
