-- CapacityProvider: the shared rules, and Progressing while its ECS status (status.status) is
-- PROVISIONING or DEPROVISIONING (with why: the Services that hold its deletion).
local function capacity_provider(obj)
  local ecs = obj.status.status
  if ecs == "PROVISIONING" or ecs == "DEPROVISIONING" then
    local why = obj.status.updateStatusReason
    if why == nil or why == "" then
      why = "The capacity provider is " .. ecs .. "."
    end
    return health.status("Progressing", why)
  end
  return nil
end

return health.assess(obj, capacity_provider)
