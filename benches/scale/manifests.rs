//! The manifests of the scale bench: N TaskDefinitions, N Services over them, two capacity
//! providers and N/100 ScheduledTasks, in the namespace `bench`.

use std::fmt::Write as _;

/// The namespace of the bench's objects.
pub const NAMESPACE: &str = "bench";

/// What a Service `i` has besides its TaskDefinition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Nothing else: a Deployment.
    Plain,
    /// A load balancer: a Kubernetes Service and a TargetGroupBinding.
    LoadBalancer,
    /// A Cloud Map registry and a Service Connect alias: two Kubernetes Services.
    ServiceConnect,
    /// Target-tracking auto scaling on CPU: an HPA.
    AutoScaling,
    /// A capacity provider strategy over the two providers: a Deployment per provider.
    CapacityProviders,
    /// `schedulingStrategy: DAEMON`: a DaemonSet.
    Daemon,
    /// A memberOf placement expression, compiled against the nodes.
    Placement,
}

/// The shape of Service `i`: of every 10, one with a load balancer, one with Service Connect,
/// one auto scaled, two over the capacity providers; of every 50, one placed by an expression;
/// of every 500, one DAEMON (a task on every node: there are many nodes); the rest plain.
#[must_use]
pub fn shape(i: usize) -> Shape {
    match (i % 10, i % 50, i % 500) {
        (0, ..) => Shape::LoadBalancer,
        (5, ..) => Shape::ServiceConnect,
        (2, ..) => Shape::AutoScaling,
        (1 | 6, ..) => Shape::CapacityProviders,
        (.., 3) => Shape::Daemon,
        (_, 7, _) => Shape::Placement,
        _ => Shape::Plain,
    }
}

/// Whether TaskDefinition `i` has dependents: a task role (ServiceAccount), a Secrets Manager
/// secret (ExternalSecret) and an EFS volume (PersistentVolume and claim). One in 10.
#[must_use]
pub fn has_dependents(i: usize) -> bool {
    i % 10 == 4
}

/// The two capacity providers (Auto Scaling group providers with managed scaling, on the nodes
/// labelled ON_DEMAND and SPOT).
pub const CAPACITY_PROVIDERS: &str = "---
apiVersion: ecsbridge.io/v1alpha1
kind: CapacityProvider
metadata:
  name: on-demand-pool
spec:
  autoScalingGroupProvider:
    autoScalingGroupArn: on-demand-asg
    managedScaling: {status: ENABLED, targetCapacity: 100}
  nodeSelector:
    eks.amazonaws.com/capacityType: ON_DEMAND
---
apiVersion: ecsbridge.io/v1alpha1
kind: CapacityProvider
metadata:
  name: spot-pool
spec:
  autoScalingGroupProvider:
    autoScalingGroupArn: spot-asg
    managedScaling: {status: ENABLED, targetCapacity: 100}
  nodeSelector:
    eks.amazonaws.com/capacityType: SPOT
";

/// The image of TaskDefinition `i` at `version` (the reaction test changes it).
#[must_use]
pub fn image(version: usize) -> String {
    format!("public.ecr.aws/nginx/nginx:1.{version}")
}

/// TaskDefinition `td-<i>`.
#[must_use]
pub fn task_definition(i: usize) -> String {
    let mut out = format!(
        "---\napiVersion: ecsbridge.io/v1alpha1\nkind: TaskDefinition\nmetadata:\n  name: td-{i}\n  namespace: {NAMESPACE}\n\
         spec:\n  networkMode: awsvpc\n  cpu: '256'\n  memory: '512'\n"
    );
    if has_dependents(i) {
        let _ = write!(
            out,
            "  taskRoleArn: arn:aws:iam::123456789012:role/td-{i}\n  volumes:\n    - name: data\n\
             \x20     efsVolumeConfiguration:\n        fileSystemId: fs-{i:08x}\n"
        );
    }
    let _ = write!(
        out,
        "  containerDefinitions:\n    - name: app\n      image: {}\n      essential: true\n\
         \x20     environment:\n        - {{name: VARIANT, value: '{i}'}}\n\
         \x20     portMappings:\n        - {{name: http, containerPort: 80}}\n",
        image(27)
    );
    if has_dependents(i) {
        let _ = write!(
            out,
            "      secrets:\n        - name: TOKEN\n          valueFrom: arn:aws:secretsmanager:us-east-1:123456789012:secret:td-{i}\n\
             \x20     mountPoints:\n        - {{sourceVolume: data, containerPath: /data}}\n"
        );
    }
    out
}

/// The Secret External Secrets makes of the ExternalSecret of revision 1 of TaskDefinition
/// `td-<i>` (the test bed runs no External Secrets Operator, and its kubelet does not retry a
/// task whose Secret appears late: the bench makes them first, as a synced operator would).
#[must_use]
pub fn synced_secret(i: usize) -> String {
    format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: td-{i}-1-secrets\n  namespace: {NAMESPACE}\n\
         stringData:\n  app.TOKEN: bench\n"
    )
}

/// Service `svc-<i>` of TaskDefinition `td-<i>`, shaped as [`shape`] says.
#[must_use]
pub fn service(i: usize) -> String {
    let mut out = format!(
        "---\napiVersion: ecsbridge.io/v1alpha1\nkind: Service\nmetadata:\n  name: svc-{i}\n  namespace: {NAMESPACE}\n\
         spec:\n  taskDefinition: td-{i}\n"
    );
    match shape(i) {
        Shape::Daemon => out.push_str("  schedulingStrategy: DAEMON\n"),
        Shape::CapacityProviders => out.push_str(
            "  desiredCount: 2\n  capacityProviderStrategy:\n    - {capacityProvider: on-demand-pool, base: 1, weight: 1}\n\
             \x20   - {capacityProvider: spot-pool, weight: 3}\n",
        ),
        _ => out.push_str("  desiredCount: 1\n"),
    }
    match shape(i) {
        Shape::LoadBalancer => {
            let _ = write!(
                out,
                "  loadBalancers:\n    - targetGroupArn: arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/svc-{i}/73e2d6bc24d8a067\n\
                 \x20     containerName: app\n      containerPort: 80\n"
            );
        }
        Shape::ServiceConnect => {
            let _ = write!(
                out,
                "  serviceRegistries:\n    - registryArn: arn:aws:servicediscovery:us-east-1:123456789012:service/srv-{i}\n\
                 \x20 serviceConnectConfiguration:\n    enabled: true\n    services:\n      - portName: http\n\
                 \x20       clientAliases:\n          - {{port: 80, dnsName: svc-{i}-api}}\n"
            );
        }
        Shape::AutoScaling => out.push_str(
            "  autoScaling:\n    minCapacity: 1\n    maxCapacity: 3\n    targetTrackingScalingPolicies:\n\
             \x20     - policyName: cpu60\n        targetValue: 60\n        predefinedMetricSpecification:\n\
             \x20         predefinedMetricType: ECSServiceAverageCPUUtilization\n",
        ),
        Shape::Placement => out.push_str(
            "  placementConstraints:\n    - type: memberOf\n      expression: attribute:ecs.os-type == linux\n",
        ),
        _ => {}
    }
    out
}

/// ScheduledTask `report-<j>`, running TaskDefinition `td-<j>` on weekdays.
#[must_use]
pub fn scheduled_task(j: usize) -> String {
    format!(
        "---\napiVersion: ecsbridge.io/v1alpha1\nkind: ScheduledTask\nmetadata:\n  name: report-{j}\n  namespace: {NAMESPACE}\n\
         spec:\n  Name: report-{j}\n  ScheduleExpression: cron(0 6 ? * MON-FRI *)\n  State: ENABLED\n  Targets:\n\
         \x20   - Id: report\n      Arn: arn:aws:ecs:us-east-1:123456789012:cluster/bench\n\
         \x20     EcsParameters: {{TaskDefinitionArn: td-{j}, TaskCount: 1}}\n"
    )
}

/// Every manifest: the namespaces, the providers, `services` TaskDefinitions and Services, and
/// `scheduled` ScheduledTasks.
#[must_use]
pub fn all(services: usize, scheduled: usize) -> String {
    let mut out = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n---\n\
         apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ecs-bridge-system\n"
    );
    out.push_str(CAPACITY_PROVIDERS);
    for i in 0..services {
        if has_dependents(i) {
            out.push_str(&synced_secret(i));
        }
        out.push_str(&task_definition(i));
        out.push_str(&service(i));
    }
    for j in 0..scheduled {
        out.push_str(&scheduled_task(j));
    }
    out
}

/// How many Services of `services` have `shape`.
#[must_use]
pub fn count(services: usize, wanted: Shape) -> usize {
    (0..services).filter(|i| shape(*i) == wanted).count()
}
