"""The stack program: the whole spec comes from Pulumi config, the `mlops:<field>` keys of
Pulumi.<stack>.yaml (`mlops-iac synth . --stack dev` renders it offline)."""

from mlops_iac import MLOpsStack, StackSpec

spec = StackSpec.from_pulumi_config()
MLOpsStack(spec.name, spec).export()
