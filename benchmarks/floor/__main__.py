"""The SDK floor: as many bare resources as the measured program registers, and no logic."""

import pulumi

config = pulumi.Config("floor")
# Parented to the stack, no inputs, no options: what registering a resource costs at the least.
for index in range(config.get_int("custom_resources") or 0):
    pulumi.CustomResource("test:index:Bare", f"bare-{index}", {})
for index in range(config.get_int("component_resources") or 0):
    pulumi.ComponentResource("test:index:BareComponent", f"bare-component-{index}")
