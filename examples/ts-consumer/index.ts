// A TypeScript program using the mlops-iac components. Generate the SDK once:
//   pulumi package add ../../components      (writes sdks/mlops and adds it to package.json)
import * as mlops from "@pulumi/mlops";

const stack = new mlops.MLOpsStack("demo", {
    stack: {
        target: { kind: "kind", cluster: "mlops" },
        profile: "local",
        routing: { mode: "gateway", gateway_class: "eg", domain: "localtest.me" },
    },
    registry: { ingress: { host: "mlflow.localtest.me" } },
    serving: [{ name: "churn", model: "models:/churn@champion", replicas: 2 }],
    training: { jobs: [{ name: "churn", dataset: "sklearn://breast_cancer" }] },
});

export const namespace = stack.namespace;
export const trackingUri = stack.trackingUri;
