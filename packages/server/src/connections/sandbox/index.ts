export {
  closeProfileScriptSandbox,
  DEFAULT_SANDBOX_LIMITS,
  ProfileScriptError,
  runFetchUserProfile,
  type ProfileScriptFailure,
  type SandboxOptions,
} from './profile-script.js';
