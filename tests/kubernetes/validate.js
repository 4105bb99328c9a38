// Validates Kubernetes and KEDA manifests (a JSON array on standard input) against their
// schemas; prints one line per problem and exits 1 when there is any.
const models = {
  "v1/Secret": () => require("kubernetes-models/v1/Secret").Secret,
  "v1/Service": () => require("kubernetes-models/v1/Service").Service,
  "apps/v1/Deployment": () => require("kubernetes-models/apps/v1/Deployment").Deployment,
  "keda.sh/v1alpha1/ScaledObject": () => require("@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject").ScaledObject,
  "keda.sh/v1alpha1/TriggerAuthentication": () =>
    require("@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication").TriggerAuthentication,
};
let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  let problems = 0;
  for (const manifest of JSON.parse(input)) {
    const key = `${manifest.apiVersion}/${manifest.kind}`;
    const model = models[key];
    if (!model) {
      console.log(`${key}: no schema known for this kind`);
      problems++;
      continue;
    }
    try {
      new (model())(manifest).validate();
    } catch (error) {
      console.log(`${key} ${manifest.metadata && manifest.metadata.name}: ${error.message}`);
      problems++;
    }
  }
  console.log(`${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
});
