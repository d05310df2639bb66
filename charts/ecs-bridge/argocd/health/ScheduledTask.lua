-- ScheduledTask: the shared rules, and Suspended while the rule's State (spec.State, as
-- EventBridge's PutRule has it) is DISABLED: the schedule starts no task until it is enabled.
-- (Only once the controller has observed that generation, and unless it is Degraded.)
local function scheduled_task(obj)
  if obj.spec ~= nil and obj.spec.State == "DISABLED" then
    return health.status("Suspended", "The rule is DISABLED: the schedule starts no task.")
  end
  return nil
end

return health.assess(obj, scheduled_task)
