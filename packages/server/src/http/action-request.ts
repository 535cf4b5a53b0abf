import type { FastifyRequest } from 'fastify';
import type { ActionRequestInfo } from '../actions/flows.js';

/** `event.request` of the Actions: what the HTTP request that continues the flow says about the user agent. */
export function actionRequestInfo(request: FastifyRequest): ActionRequestInfo {
  const userAgent = request.headers['user-agent'];
  const language = request.headers['accept-language'];
  return {
    ip: request.ip,
    hostname: request.hostname,
    method: request.method,
    ...(typeof userAgent === 'string' ? { user_agent: userAgent.slice(0, 512) } : {}),
    ...(typeof language === 'string' ? { language: language.split(',')[0]?.split(';')[0]?.trim().slice(0, 35) ?? '' } : {}),
  };
}
