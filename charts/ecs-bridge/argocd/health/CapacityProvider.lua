-- CapacityProvider: the shared rules, and Progressing while its ECS status (status.status) is
-- PROVISIONING or DEPROVISIONING.
local function capacity_provider(obj)
  local ecs = obj.status.status
  if ecs == "PROVISIONING" or ecs == "DEPROVISIONING" then
    return health.status("Progressing", "The capacity provider is " .. ecs .. ".")
  end
  return nil
end

return health.assess(obj, capacity_provider)
