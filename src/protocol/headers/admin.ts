/**
 * Broker admin requests.
 * - UPDATE_AND_CREATE_TOPIC (17) CreateTopicRequestHeader: topic*, defaultTopic* (TBW102),
 *   readQueueNums*, writeQueueNums*, perm* (R=4, W=2, RW=6), topicFilterType* (SINGLE_TAG|MULTI_TAG),
 *   topicSysFlag, order*, attributes
 * - UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200): no header, body SubscriptionGroupConfig JSON
 *   (remoting/protocol/subscription/SubscriptionGroupConfig.java)
 */

export const Perm = { READ: 4, WRITE: 2, INHERIT: 1, READ_WRITE: 6 } as const;

export interface CreateTopicRequestHeader {
  topic: string;
  defaultTopic: string;
  readQueueNums: number;
  writeQueueNums: number;
  perm: number;
  topicFilterType: "SINGLE_TAG" | "MULTI_TAG";
  topicSysFlag?: number;
  order: boolean;
  attributes?: string;
}

export interface SubscriptionGroupConfig {
  groupName: string;
  consumeEnable: boolean;
  consumeFromMinEnable: boolean;
  consumeBroadcastEnable: boolean;
  retryQueueNums: number;
  retryMaxTimes: number;
  brokerId: number;
  whichBrokerWhenConsumeSlowly: number;
  notifyConsumerIdsChangedEnable: boolean;
}

/** A SubscriptionGroupConfig with the broker's defaults. */
export function defaultSubscriptionGroupConfig(groupName: string): SubscriptionGroupConfig {
  return {
    groupName,
    consumeEnable: true,
    consumeFromMinEnable: true,
    consumeBroadcastEnable: true,
    retryQueueNums: 1,
    retryMaxTimes: 16,
    brokerId: 0,
    whichBrokerWhenConsumeSlowly: 1,
    notifyConsumerIdsChangedEnable: true,
  };
}
