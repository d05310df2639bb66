//! Service Auto Scaling (pure): what Application Auto Scaling does to an ECS service, for the
//! Service controller and `render` (ecs-reference §5). So far: the scheduled actions
//! ([`scheduled`]), which set the scalable target's min and max capacity at their times.

pub mod scheduled;
#[cfg(test)]
mod scheduled_tests;
