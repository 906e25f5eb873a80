export { meQueryKey, useMe, useSignIn, useSignOut } from './api/auth';
export { SignInPage } from './components/SignInPage';
