// Validates rendered Kubernetes manifests (the output of `kubectl kustomize`) against the OpenAPI/CRD schemas
// bundled in the kubernetes-models packages: no cluster and no network needed.
// Usage: node validate.mjs rendered.yaml [more.yaml ...]; exits 1 on the first file with an invalid document.
// Limitation: these schemas do not forbid unknown fields, so a misspelled optional field passes here; the JUnit
// tests in src/test/java/dev/sdcfg/deploy check the fields this project relies on.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";
import * as core from "kubernetes-models/v1";
import * as apps from "kubernetes-models/apps/v1";
import * as monitoring from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import * as keda from "@kubernetes-models/keda/keda.sh/v1alpha1";

const models = {
  "v1/Namespace": core.Namespace,
  "v1/Service": core.Service,
  "v1/ConfigMap": core.ConfigMap,
  "v1/PersistentVolumeClaim": core.PersistentVolumeClaim,
  "apps/v1/Deployment": apps.Deployment,
  "apps/v1/StatefulSet": apps.StatefulSet,
  "monitoring.coreos.com/v1/ServiceMonitor": monitoring.ServiceMonitor,
  "keda.sh/v1alpha1/ScaledObject": keda.ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": keda.TriggerAuthentication,
};

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      console.error(`${file}: YAML error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const obj = doc.toJS();
    if (obj == null) continue;
    const key = `${obj.apiVersion}/${obj.kind}`;
    const name = `${file}: ${key} ${obj.metadata?.name ?? "(no name)"}`;
    const Model = models[key];
    if (!Model) {
      console.error(`${name}: no schema for this apiVersion/kind (add it to validate.mjs)`);
      failures++;
      continue;
    }
    try {
      new Model(obj).validate();
      checked++;
      console.log(`ok   ${name}`);
    } catch (e) {
      failures++;
      console.error(`FAIL ${name}: ${e.message}`);
    }
  }
}
console.log(`${checked} manifests valid, ${failures} invalid`);
process.exit(failures === 0 && checked > 0 ? 0 : 1);
