export {
  closeProfileScriptSandbox,
  DEFAULT_SANDBOX_LIMITS,
  ProfileScriptError,
  type ProfileScriptFailure,
  runFetchUserProfile,
  type SandboxOptions,
} from './profile-script.js';
