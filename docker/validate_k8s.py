#!/usr/bin/env python3
"""validate_k8s.py -- check docker/k8s/*.yaml against Kubernetes' own schemas.

Two layers, because each misses what the other sees:

1. Schema: every object is validated with kubernetes-validate (PyPI), which
   carries the JSON Schemas generated from Kubernetes' OpenAPI spec, in
   strict mode (unknown fields are errors, so a misspelt `readinesProbe`
   fails instead of being silently ignored), against the oldest and the
   newest Kubernetes versions listed in K8S_VERSIONS.
2. Wiring: what a schema cannot know -- the Service and the PDB select the
   Deployment's pods, the probes name the container's port and the paths
   the daemon serves, the HPA targets the Deployment, the grace period
   covers preStop plus the daemon's drain, the scrape annotation names the
   real port.

A self-test first feeds the schema layer a deliberately broken Deployment
and fails if it is accepted, so a validator that accepts everything cannot
pass. Prints one line per check and a closing "N passed, N failed"; exits 1
on any failure.

Needs: PyYAML and kubernetes-validate (pip install kubernetes-validate).
Usage: python3 docker/validate_k8s.py [DIR]   (default: docker/k8s)
"""

import copy
import os
import sys

try:
    import yaml
    import kubernetes_validate as kv
except ImportError as e:  # a missing tool is a failure, never a skip
    print("FAIL import: %s (pip install kubernetes-validate)" % e)
    print("0 passed, 1 failed")
    sys.exit(1)

# Oldest Kubernetes still commonly run, and the newest the package knows.
K8S_VERSIONS = ["1.29.0", kv.latest_version()]

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s%s" % (what, (": " + detail) if detail else ""))
    return ok


def schema_errors(obj, version):
    """None when obj is valid for that Kubernetes version, else the error."""
    try:
        kv.validate(obj, version, strict=True)
        return None
    except kv.ValidationError as e:
        path = "/".join(str(p) for p in e.path)
        return "%s at %s" % (e.message, path or "(top)")
    except (kv.SchemaNotFoundError, kv.InvalidSchemaError) as e:
        return getattr(e, "message", str(e))


def load(dirname):
    objs = []
    for name in sorted(os.listdir(dirname)):
        if not name.endswith((".yaml", ".yml")):
            continue
        with open(os.path.join(dirname, name)) as f:
            for doc in yaml.safe_load_all(f):
                if doc is not None:
                    objs.append((name, doc))
    return objs


def self_test(deploy):
    """The schema layer must reject broken objects."""
    v = K8S_VERSIONS[-1]
    bad = copy.deepcopy(deploy)
    c = bad["spec"]["template"]["spec"]["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe")  # unknown field
    check(schema_errors(bad, v) is not None, "self-test: misspelt field rejected")
    bad = copy.deepcopy(deploy)
    bad["spec"]["replicas"] = "three"  # wrong type
    check(schema_errors(bad, v) is not None, "self-test: wrong type rejected")
    bad = copy.deepcopy(deploy)
    del bad["spec"]["template"]["spec"]["containers"][0]["name"]  # required
    check(schema_errors(bad, v) is not None, "self-test: missing required field rejected")


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def env_value(container, name):
    for e in container.get("env", []):
        if e["name"] == name:
            return e.get("value")
    return None


def wiring(by_kind):
    dep = by_kind["Deployment"]
    svc = by_kind["Service"]
    hpa = by_kind["HorizontalPodAutoscaler"]
    pdb = by_kind.get("PodDisruptionBudget")
    pod = dep["spec"]["template"]
    labels = pod["metadata"]["labels"]
    spec = pod["spec"]
    c = spec["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}

    check(selects(dep["spec"]["selector"]["matchLabels"], labels),
          "deployment selector matches its pod labels")
    check(selects(svc["spec"]["selector"], labels), "service selects the pods")
    for p in svc["spec"]["ports"]:
        t = p["targetPort"]
        check(t in ports or t in ports.values(),
              "service port %s targets a container port" % p.get("name"), str(t))
    if pdb is not None:
        check(selects(pdb["spec"]["selector"]["matchLabels"], labels), "pdb selects the pods")
        check(pdb["spec"]["minAvailable"] < dep["spec"]["replicas"],
              "pdb leaves room for one voluntary disruption")

    live = c.get("livenessProbe", {}).get("httpGet", {})
    ready = c.get("readinessProbe", {}).get("httpGet", {})
    check(live.get("path") == "/v2/health/live", "liveness probe on /v2/health/live")
    check(ready.get("path") == "/v2/health/ready", "readiness probe on /v2/health/ready")
    check(live.get("port") in ports and ready.get("port") in ports,
          "probes name a container port")

    listen = env_value(c, "UNPOOLD_LISTEN") or ""
    check(listen.startswith("0.0.0.0:") and int(listen.rsplit(":", 1)[1]) in ports.values(),
          "UNPOOLD_LISTEN is 0.0.0.0 on the container port", listen)

    ann = pod["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true"
          and int(ann.get("prometheus.io/port", "0")) in ports.values()
          and ann.get("prometheus.io/path") == "/metrics",
          "prometheus scrape annotations name the metrics port and path")

    pre = c.get("lifecycle", {}).get("preStop", {})
    cmd = pre.get("exec", {}).get("command", [])
    sleep_s = int(cmd[1]) if len(cmd) == 2 and cmd[0] == "sleep" else 0
    check(sleep_s >= 5, "preStop sleeps so endpoint removal propagates", str(cmd))
    drain_ms = int(env_value(c, "UNPOOLD_DRAIN_TIMEOUT_MS") or 30000)
    grace = spec.get("terminationGracePeriodSeconds", 30)
    check(grace >= sleep_s + drain_ms / 1000.0 + 5,
          "terminationGracePeriodSeconds covers preStop + drain + 5 s",
          "%ss < %ss + %sms" % (grace, sleep_s, drain_ms))

    res = c.get("resources", {})
    check("cpu" in res.get("requests", {}) and "memory" in res.get("limits", {}),
          "cpu request (for the HPA) and memory limit set")
    sc = spec.get("securityContext", {})
    check(sc.get("runAsNonRoot") is True and sc.get("runAsUser", 0) != 0, "runs as non-root")

    tgt = hpa["spec"]["scaleTargetRef"]
    check(tgt["kind"] == "Deployment" and tgt["name"] == dep["metadata"]["name"],
          "hpa targets the deployment")
    names = [m.get("resource", {}).get("name") for m in hpa["spec"]["metrics"]]
    check("cpu" in names, "hpa scales on cpu")
    check(hpa["spec"]["minReplicas"] <= dep["spec"]["replicas"] <= hpa["spec"]["maxReplicas"],
          "deployment replicas within hpa bounds")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    dirname = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "k8s")
    objs = load(dirname)
    check(len(objs) > 0, "manifests found in %s" % os.path.basename(dirname.rstrip("/")))
    by_kind = {}
    for name, obj in objs:
        for v in K8S_VERSIONS:
            err = schema_errors(obj, v)
            check(err is None, "%s %s/%s valid for Kubernetes %s"
                  % (name, obj.get("kind"), obj.get("metadata", {}).get("name"), v), err or "")
        by_kind[obj.get("kind")] = obj
    missing = [k for k in ("Deployment", "Service", "HorizontalPodAutoscaler") if k not in by_kind]
    if check(not missing, "deployment, service and hpa present", ", ".join(missing)):
        self_test(by_kind["Deployment"])
        wiring(by_kind)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
