"""epcis."""
