//! Service Auto Scaling (pure): what Application Auto Scaling does to an ECS service, for the
//! Service controller and `render` (ecs-reference §5). So far: target tracking on the tasks' CPU
//! and memory as an HPA ([`hpa`]), and the scheduled actions ([`scheduled`]), which set the
//! scalable target's min and max capacity at their times.

pub mod hpa;
#[cfg(test)]
mod hpa_tests;
pub mod scheduled;
#[cfg(test)]
mod scheduled_tests;
