// The floor's activities: they do nothing, so what remains is Temporal's own cost per activity. The last one before a
// wait tells the driver the wait is open, as the case's projection write lets a person find the task, or its notice
// reaches a partner.

export interface ReadyNotice {
  workflowId: string;
  index: number;
}

export function createFloorActivities(onReady: (n: ReadyNotice) => void) {
  return {
    async noop(ready?: ReadyNotice): Promise<void> {
      if (ready) onReady(ready);
    },
  };
}

export type FloorActivities = ReturnType<typeof createFloorActivities>;
