//! The objects a TaskDefinition's tasks need, end to end: a task role becomes a ServiceAccount the
//! Service's pods run as (a real API server refuses pods naming a ServiceAccount that does not
//! exist, and so does the double); an EFS volume becomes a PersistentVolume and claim; AWS
//! secrets become an ExternalSecret, or, where External Secrets is not installed, a `Degraded`
//! condition that says so. Deleting the TaskDefinition collects what it owns.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Env, eventually};

const TIMEOUT: Duration = Duration::from_secs(60);

fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

const MANIFESTS: &str = r#"
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: api
spec:
  family: api
  taskRoleArn: arn:aws:iam::123456789012:role/api
  containerDefinitions:
    - name: api
      image: public.ecr.aws/nginx/nginx:1.27
      user: "1000"
      memory: 128
---
apiVersion: ecsbridge.io/v1alpha1
kind: Service
metadata:
  name: api
spec:
  serviceName: api
  taskDefinition: api
  desiredCount: 2
---
apiVersion: ecsbridge.io/v1alpha1
kind: TaskDefinition
metadata:
  name: files
spec:
  family: files
  volumes:
    - name: data
      efsVolumeConfiguration:
        fileSystemId: fs-0123456789abcdef0
        transitEncryption: ENABLED
  containerDefinitions:
    - name: app
      image: public.ecr.aws/nginx/nginx:1.27
      memory: 128
      mountPoints:
        - sourceVolume: data
          containerPath: /data
      secrets:
        - name: TOKEN
          valueFrom: arn:aws:ssm:us-east-1:123456789012:parameter/token
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_roles_volumes_and_secrets_become_objects_the_pods_can_use() {
    let env = Env::start("dependents").await;
    let manifests = env.file("dependents.yaml", MANIFESTS);
    env.kubectl_ok(&["apply", "-f", &Env::s(&manifests)]);

    // The task role's ServiceAccount, owned by the TaskDefinition, and pods running as it.
    let sa = eventually("ServiceAccount ecs-api", TIMEOUT, || {
        env.get(&["serviceaccount", "ecs-api"]).ok_or("absent".into())
    })
    .await;
    assert_eq!(
        s(&sa, "/metadata/annotations/eks.amazonaws.com~1role-arn"),
        "arn:aws:iam::123456789012:role/api"
    );
    let td = env.get(&["taskdef", "api"]).expect("TaskDefinition api");
    assert_eq!(s(&sa, "/metadata/ownerReferences/0/uid"), s(&td, "/metadata/uid"));
    env.kubectl_ok(&["wait", "--for=condition=Ready", "ecssvc/api", "--timeout=60s"]);
    let pods = env
        .get(&["pods", "-l", "ecsbridge.io/service=api"])
        .expect("pods");
    let pods = pods["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(pods.len(), 2, "{pods:?}");
    for pod in &pods {
        assert_eq!(s(pod, "/spec/serviceAccountName"), "ecs-api");
    }

    // The EFS volume: a claim owned by revision 1, bound by name to its PersistentVolume.
    let pvc = eventually("claim files-1-data", TIMEOUT, || {
        env.get(&["pvc", "files-1-data"]).ok_or("absent".into())
    })
    .await;
    assert_eq!(s(&pvc, "/metadata/ownerReferences/0/kind"), "ControllerRevision");
    assert_eq!(s(&pvc, "/metadata/ownerReferences/0/name"), "files-1");
    let pv_name = s(&pvc, "/spec/volumeName").to_owned();
    assert!(
        pv_name.starts_with(&format!("ecs-{}-files-1-data-", env.namespace)),
        "{pv_name}"
    );
    let pv = env.get(&["pv", &pv_name]).expect("the PersistentVolume");
    assert_eq!(s(&pv, "/spec/csi/driver"), "efs.csi.aws.com");
    assert_eq!(s(&pv, "/spec/persistentVolumeReclaimPolicy"), "Retain");
    assert_eq!(s(&pv, "/metadata/labels/ecsbridge.io~1namespace"), env.namespace);

    // The secret: an ExternalSecret where External Secrets is installed, else Degraded.
    let eso = env
        .kubectl(&["get", "crd", "externalsecrets.external-secrets.io"])
        .status
        .success();
    if eso {
        let es = eventually("ExternalSecret files-1-secrets", TIMEOUT, || {
            env.get(&["externalsecret", "files-1-secrets"])
                .ok_or("absent".into())
        })
        .await;
        assert_eq!(s(&es, "/metadata/ownerReferences/0/name"), "files-1");
    } else {
        let degraded = eventually("TaskDefinition files Degraded", TIMEOUT, || {
            let td = env.get(&["taskdef", "files"]).ok_or("absent")?;
            td["status"]["conditions"]
                .as_array()
                .and_then(|c| c.iter().find(|c| c["type"] == "Degraded").cloned())
                .ok_or(format!("{}", td["status"]))
        })
        .await;
        assert_eq!(s(&degraded, "/status"), "True");
        assert!(
            s(&degraded, "/message").contains("--external-secrets=false"),
            "{degraded}"
        );
    }

    // Deleting the TaskDefinitions collects the ServiceAccount and the claim.
    env.kubectl_ok(&["delete", "ecssvc", "api"]);
    env.kubectl_ok(&["delete", "taskdef", "api", "files"]);
    eventually("ServiceAccount and claim collected", TIMEOUT, || {
        let gone =
            env.get(&["serviceaccount", "ecs-api"]).is_none() && env.get(&["pvc", "files-1-data"]).is_none();
        gone.then_some(()).ok_or("still there".to_owned())
    })
    .await;
    // (The PersistentVolume stays, Released, with `Retain`: see the TaskDefinition docs.)
    env.kubectl(&["delete", "pv", &pv_name]);
}
