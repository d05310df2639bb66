-- TaskDefinition: the shared rules, as the TaskDefinition controller sets its conditions
-- (src/controller/task_definition/status.rs): Ready=True once the spec is registered as a
-- revision; Ready=False and Degraded=True, with the same reason, when it is refused
-- (InvalidTaskDefinition: a spec that cannot become a pod template; NameTooLong, MissingUid) or
-- when objects the tasks need could not be made (DependentsNotApplied); no Progressing condition
-- (registering is immediate).
-- Besides: Translated=False with reason InvalidTaskDefinition is Degraded even without
-- Degraded=True (a status written by an operator older than the refusal of such specs).
local function task_definition(obj)
  local translated = health.condition(obj, "Translated")
  if translated ~= nil and translated.status == "False" and translated.reason == "InvalidTaskDefinition" then
    return health.status("Degraded", health.says(translated))
  end
  return nil
end

return health.assess(obj, task_definition)
