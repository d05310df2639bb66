-- Rules shared by the five ecs-bridge kinds. hack/argocd_health.py puts this file in front of
-- each kind's file (<Kind>.lua) to make that kind's health check: Argo CD runs one self-contained
-- script per kind, with `obj` set to the object, and takes the table the script returns.
--
-- Argo CD runs scripts from argocd-cm in gopher-lua (Lua 5.1) with only the base, table and
-- package libraries and a safe os: no `string` or `math` library and no string methods
-- (`s:sub`). Only operators (`..`, `#`, comparisons) and base functions (`tostring`, `ipairs`).
--
-- The order of the rules, for every kind:
--   1. Progressing until the controller has observed the object's generation
--      (status.observedGeneration == metadata.generation); conditions written for an older
--      generation (their observedGeneration) are ignored.
--   2. Degraded when Degraded=True (its message says why).
--   3. The kind's own rules (in <Kind>.lua).
--   4. Progressing while Progressing=True (a rollout is in progress).
--   5. Healthy when Ready=True.
--   6. Ready=False: Progressing when its reason is one of WAITING_REASONS (tasks are starting, a
--      first revision is being registered), Degraded otherwise. Why: the controllers set Ready=False with another reason only when they
--      refuse the spec (invalid spec, a TaskDefinition that does not exist, a name too long...),
--      with Progressing=False (Service) or no Progressing at all (TaskDefinition). Those are
--      permanent until the object, or what it names, changes: nothing is progressing. Ready=False
--      with TasksPending and Progressing=False is ordinary too (the rollout is done but tasks are
--      still starting, e.g. after a scale-up): that is Progressing, as Argo CD says of a Deployment
--      whose replicas are not available yet.
--   7. Progressing while there is no Ready condition yet.

local health = {}

-- Ready=False reasons that mean "waiting", not "refused" (src/api/condition.rs,
-- WAITING_REASONS): the Service controller's TasksPending (tasks are starting) and
-- WaitingForTaskDefinition (its TaskDefinition's first revision is being registered).
health.WAITING_REASONS = { TasksPending = true, WaitingForTaskDefinition = true }

-- The table Argo CD reads.
function health.status(status, message)
  return { status = status, message = message }
end

-- The condition `type_` of obj, or nil when it is absent or written for an older generation.
function health.condition(obj, type_)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  local generation = obj.metadata.generation
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type_ then
      if c.observedGeneration ~= nil and generation ~= nil and c.observedGeneration < generation then
        return nil
      end
      return c
    end
  end
  return nil
end

-- What a condition says: its message, else its reason.
function health.says(c)
  if c.message ~= nil and c.message ~= "" then
    return c.message
  end
  return c.reason
end

-- Rule 1: Progressing until the controller has observed the object's generation.
function health.unobserved(obj)
  local generation = obj.metadata.generation
  local observed = nil
  if obj.status ~= nil then
    observed = obj.status.observedGeneration
  end
  if observed == nil then
    if generation == nil then
      return health.status("Progressing", "Waiting for ecs-bridge to observe the object.")
    end
    return health.status("Progressing", "Waiting for ecs-bridge to observe generation " .. tostring(generation) .. ".")
  end
  if generation ~= nil and observed ~= generation then
    return health.status("Progressing", "Waiting for ecs-bridge to observe generation " .. tostring(generation) ..
      " (the status is of generation " .. tostring(observed) .. ").")
  end
  return nil
end

-- Rule 2: Degraded when Degraded=True.
function health.degraded(obj)
  local degraded = health.condition(obj, "Degraded")
  if degraded ~= nil and degraded.status == "True" then
    return health.status("Degraded", health.says(degraded))
  end
  return nil
end

-- Rules 4 to 7, from Progressing and Ready.
function health.conditions(obj)
  local progressing = health.condition(obj, "Progressing")
  if progressing ~= nil and progressing.status == "True" then
    return health.status("Progressing", health.says(progressing))
  end
  local ready = health.condition(obj, "Ready")
  if ready == nil then
    return health.status("Progressing", "Waiting for the Ready condition.")
  end
  if ready.status == "True" then
    return health.status("Healthy", health.says(ready))
  end
  if ready.status == "False" and not health.WAITING_REASONS[ready.reason] then
    return health.status("Degraded", health.says(ready))
  end
  return health.status("Progressing", health.says(ready))
end

-- The health of obj: rules 1 and 2, then `specific(obj)` (the kind's rules; nil when they do not
-- decide), then rules 4 to 7.
function health.assess(obj, specific)
  local hs = health.unobserved(obj) or health.degraded(obj)
  if hs == nil and specific ~= nil then
    hs = specific(obj)
  end
  return hs or health.conditions(obj)
end
