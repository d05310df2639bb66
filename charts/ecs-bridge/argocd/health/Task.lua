-- Task: standalone tasks run to completion (src/api/task.rs), so a Task is judged like a Job.
-- status.lastStatus STOPPED means finished: Healthy when every task succeeded, Degraded
-- otherwise (src/translate/task/outcome.rs says the same). A task succeeded when it stopped
-- because its essential containers exited (stopCode EssentialContainerExited, or no stop code)
-- and no essential container exited with a code other than 0 (a non-essential container's exit
-- code is informational: one stopped with the task exits 143); any other stop code
-- (TaskFailedToStart, UserInitiated, SpotInterruption, ...) is a failure.
-- Before STOPPED, a Task is Progressing (an Argo CD sync waits for it, as for a Job) unless the
-- shared rules find it Degraded (a refused spec, Degraded=True).

-- Why a STOPPED Task failed, or nil when every task succeeded.
local function failure(status)
  for _, task in ipairs(status.tasks or {}) do
    local name = task.taskArn or "?"
    if task.stopCode ~= nil and task.stopCode ~= "EssentialContainerExited" then
      local message = "Task " .. name .. " stopped: " .. task.stopCode
      if task.stoppedReason ~= nil then
        message = message .. ": " .. task.stoppedReason
      end
      return message .. "."
    end
    for _, container in ipairs(task.containers or {}) do
      if container.essential ~= false and container.exitCode ~= nil and container.exitCode ~= 0 then
        local message = "Task " .. name .. ": essential container " .. (container.name or "?") ..
          " exited with code " .. tostring(container.exitCode)
        if container.reason ~= nil then
          message = message .. " (" .. container.reason .. ")"
        end
        return message .. "."
      end
    end
  end
  if status.stopCode ~= nil and status.stopCode ~= "EssentialContainerExited" then
    return "The tasks stopped: " .. status.stopCode .. "."
  end
  return nil
end

local function task(obj)
  local status = obj.status
  if status.lastStatus == "STOPPED" then
    local failed = failure(status)
    if failed ~= nil then
      return health.status("Degraded", failed)
    end
    local n = #(status.tasks or {})
    if n == 1 then
      return health.status("Healthy", "The task stopped successfully.")
    end
    return health.status("Healthy", "All " .. tostring(n) .. " tasks stopped successfully.")
  end
  local hs = health.conditions(obj)
  if hs.status == "Healthy" then
    return health.status("Progressing", "The tasks are " .. (status.lastStatus or "starting") ..
      "; the Task is done when they have stopped.")
  end
  return hs
end

return health.assess(obj, task)
