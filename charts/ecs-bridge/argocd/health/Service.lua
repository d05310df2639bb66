-- Service: the shared rules, as the Service controller sets its conditions
-- (src/controller/service/status.rs): Progressing=True (RolloutInProgress) while tasks of the
-- current revision replace older ones; Ready=False (TasksPending) while tasks start;
-- Degraded=True for a deployment the circuit breaker failed, a rollout the deployment
-- configuration blocks, or networking objects the cluster could not take, with Ready=False for
-- the same reason; Ready=False and Progressing=False with the validation reason
-- (TaskDefinitionNotFound, TaskDefinitionNotRegistered, InvalidTaskDefinitionReference,
-- InvalidTaskDefinition, InvalidService) for a spec it refuses, or WaitingForTaskDefinition
-- while the TaskDefinition registers its first revision.
return health.assess(obj)
