-- TaskDefinition: the shared rules, as the TaskDefinition controller sets its conditions
-- (src/controller/task_definition/status.rs): Ready=True once the spec is registered as a
-- revision, Ready=False when it cannot be (NameTooLong, MissingUid), Degraded=True when objects
-- the tasks need could not be made; no Progressing condition (registering is immediate).
-- Besides: a spec that cannot become a pod template is still registered (Ready=True), with
-- Translated=False and reason InvalidTaskDefinition; no Service can run it, so it is Degraded.
local function task_definition(obj)
  local translated = health.condition(obj, "Translated")
  if translated ~= nil and translated.status == "False" and translated.reason == "InvalidTaskDefinition" then
    return health.status("Degraded", health.says(translated))
  end
  return nil
end

return health.assess(obj, task_definition)
