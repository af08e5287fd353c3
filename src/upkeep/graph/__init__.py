"""Resource Graph: KQL over machines, maintenance and patch records."""
