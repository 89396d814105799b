"""Account pages. Thin: bind a form, call one service or selector, redirect or render."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services, throttle
from accounts.errors import (
    AccountError,
    CodeInvalid,
    CodeSentTooRecently,
    TokenInvalid,
    TooManyRequests,
)
from accounts.forms import (
    AddressForm,
    CodeForm,
    DeleteAccountForm,
    EmailChangeForm,
    EmailForm,
    PasswordResetForm,
    PhoneForm,
    ProfileForm,
    RegistrationForm,
    SignInForm,
)
from accounts.phone import mask_phone

BACKEND = "accounts.backends.EmailOrPhoneBackend"
#: Session keys: the number waiting for its code, and where to go after signing in.
PHONE_SIGN_IN = "accounts_phone_sign_in"
PHONE_CHANGE = "accounts_phone_change"
PHONE_TO_CONFIRM = "accounts_phone_to_confirm"
#: Set once a code to confirm deleting the account has been texted (the page asks for it).
DELETE_CODE_SENT = "accounts_delete_code_sent"
NEXT = "accounts_next"


def _safe_next(request, url: str | None) -> str | None:
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


def _remember(request, remember: bool) -> None:
    """Remember me: a cookie for ACCOUNT_REMEMBER_ME_DAYS; else gone when the browser closes."""
    request.session.set_expiry(settings.ACCOUNT_REMEMBER_ME_DAYS * 86400 if remember else 0)


# --- Registration and activation ---------------------------------------------------------


@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = RegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        services.register_user(
            email=data["email"],
            password=data["password"],
            full_name=data["full_name"],
            phone=data["phone"] or None,
            site_url=settings.SHOP_URL,
        )
        request.session["accounts_registered"] = data["email"]
        return redirect("accounts:register_done")
    return render(request, "accounts/register.html", {"form": form})


def register_done(request):
    email = request.session.get("accounts_registered", "")
    return render(request, "accounts/register_done.html", {"email": email})


@require_http_methods(["GET", "POST"])
def resend_activation(request):
    form = EmailForm(request.POST or None, initial={"email": request.GET.get("email", "")})
    if request.method == "POST" and form.is_valid():
        services.resend_activation(email=form.cleaned_data["email"], site_url=settings.SHOP_URL)
        request.session["accounts_registered"] = form.cleaned_data["email"]
        return redirect("accounts:register_done")
    return render(request, "accounts/resend_activation.html", {"form": form})


@require_http_methods(["GET", "POST"])
def activate(request, token):
    """GET shows a button, POST activates: mail scanners that prefetch links use no link up."""
    if request.method == "POST":
        try:
            activation = services.activate_account(token=token)
        except TokenInvalid as exc:
            return _link_problem(request, exc.message, resend=True)
        if activation.phone:
            request.session[PHONE_TO_CONFIRM] = activation.phone
            next_url = reverse("accounts:phone_change")
        else:
            next_url = reverse("accounts:profile")
        messages.success(request, _("Your account is active. Please sign in."))
        return redirect(f"{reverse('accounts:login')}?next={next_url}")
    return render(request, "accounts/activate.html", {"token": token})


def _link_problem(request, message, *, resend: bool = False):
    return render(
        request,
        "accounts/link_problem.html",
        {"message": message, "resend": resend},
        status=400,
    )


# --- Sign in and out ---------------------------------------------------------------------


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "remember_days": settings.ACCOUNT_REMEMBER_ME_DAYS}

    def form_valid(self, form):
        response = super().form_valid(form)  # login() rotates the session key
        _remember(self.request, form.cleaned_data.get("remember", False))
        return response

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.has_error("__all__", code="throttled"):
            response.status_code = 429
        return response


class SignOutView(auth_views.LogoutView):
    """POST only (Django's LogoutView answers GET with 405)."""

    def post(self, request, *args, **kwargs):
        return _forget_cookies(super().post(request, *args, **kwargs))


def _forget_cookies(response):
    for name in settings.SIGN_OUT_CLEARS_COOKIES:
        response.delete_cookie(name, samesite="Lax")
    return response


@require_http_methods(["GET", "POST"])
def phone_sign_in(request):
    """Sign in, or sign up, with a phone number and a texted code."""
    if request.user.is_authenticated:
        return redirect("accounts:profile")
    form = PhoneForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        try:
            services.send_phone_code(request=request, phone=phone, purpose="sign-in")
        except CodeSentTooRecently as exc:
            if request.session.get(PHONE_SIGN_IN) != phone:
                form.add_error(None, exc.message)
                status = 429
        except AccountError as exc:
            form.add_error(None, exc.message)
            status = 429
        if not form.errors:
            request.session[PHONE_SIGN_IN] = phone
            request.session[NEXT] = _safe_next(request, request.POST.get("next")) or ""
            messages.success(
                request, _("We texted a code to %(phone)s.") % {"phone": mask_phone(phone)}
            )
            return redirect("accounts:phone_sign_in_verify")
    return render(
        request,
        "accounts/phone_start.html",
        {"form": form, "mode": "sign-in", "next": request.GET.get("next", "")},
        status=status,
    )


@require_http_methods(["GET", "POST"])
def phone_sign_in_verify(request):
    phone = request.session.get(PHONE_SIGN_IN)
    if not phone:
        messages.info(request, _("Enter your phone number first."))
        return redirect("accounts:phone_sign_in")
    if request.method == "POST" and "resend" in request.POST:
        _resend(request, phone=phone, purpose="sign-in")
        return redirect("accounts:phone_sign_in_verify")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            user, created = services.sign_in_with_phone_code(
                request=request, phone=phone, code=form.cleaned_data["code"]
            )
        except CodeInvalid as exc:
            form.add_error("code", exc.message)
        except AccountError as exc:
            form.add_error(None, exc.message)
            status = 429
        else:
            if user is None:
                form.add_error(None, _("This account is closed. Please contact us."))
                status = 403
            else:
                next_url = request.session.get(NEXT) or ""
                login(request, user, backend=BACKEND)  # rotates the session key
                _remember(request, False)
                if created:
                    messages.success(
                        request,
                        _(
                            "Welcome! Your account is ready. Set a password below to sign in "
                            "with your number and a password too."
                        ),
                    )
                    return redirect("accounts:password_change")
                messages.success(request, _("You are signed in."))
                return redirect(_safe_next(request, next_url) or reverse("accounts:profile"))
    return render(
        request,
        "accounts/phone_verify.html",
        {"form": form, "phone": mask_phone(phone), "mode": "sign-in"},
        status=status,
    )


def _resend(request, *, phone: str, purpose: str) -> None:
    try:
        services.send_phone_code(request=request, phone=phone, purpose=purpose)
    except AccountError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("We texted a new code to %(phone)s.") % {"phone": mask_phone(phone)}
        )


# --- Password reset and change -----------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm
    template_name = "accounts/password_reset_form.html"
    success_url = reverse_lazy("accounts:password_reset_done")

    def form_valid(self, form):
        # Counted whether or not the address has an account: the cap says nothing about it.
        try:
            throttle.check_reset_mail_allowed(request=self.request)
        except TooManyRequests as exc:
            form.add_error(None, exc.message)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "accounts/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        services.password_was_reset(user=form.user)
        return response


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "accounts/password_reset_complete.html"


@login_required
@require_http_methods(["GET", "POST"])
def password_change(request):
    """Change the password, or set a first one for an account made with a phone code."""
    form_class = PasswordChangeForm if request.user.has_usable_password() else SetPasswordForm
    form = form_class(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password has been saved."))
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form, "setting_first": form_class is SetPasswordForm, "links": _account_links()},
    )


# --- Profile -----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        services.update_profile(user=request.user, full_name=form.cleaned_data["full_name"])
        messages.success(request, _("Your profile has been saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form, "links": _account_links()})


def _account_links() -> list[tuple[str, str]]:
    """Orders and wishlist pages, where the apps that own them are installed."""
    from django.urls import NoReverseMatch

    found = []
    for name, label in (
        ("orders:list", _("Your orders")),
        ("catalog:wishlist", _("Your wishlist")),
    ):
        try:
            found.append((reverse(name), label))
        except NoReverseMatch:
            continue
    return found


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request):
    form = EmailChangeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        new_email = form.cleaned_data["email"]
        services.request_email_change(
            user=request.user, new_email=new_email, site_url=settings.SHOP_URL
        )
        messages.success(
            request,
            _("We sent a link to %(email)s. Your email address changes when you follow it.")
            % {"email": new_email},
        )
        return redirect("accounts:profile")
    return render(request, "accounts/email_change.html", {"form": form})


@require_http_methods(["GET", "POST"])
def email_change_confirm(request, token):
    if request.method == "POST":
        try:
            user = services.confirm_email_change(token=token)
        except AccountError as exc:
            return _link_problem(request, exc.message)
        messages.success(request, _("Your email address is now %(email)s.") % {"email": user.email})
        if request.user.is_authenticated and request.user.pk == user.pk:
            return redirect("accounts:profile")
        return redirect("accounts:login")
    return render(request, "accounts/email_change_confirm.html", {"token": token})


@login_required
@require_http_methods(["GET", "POST"])
def phone_change(request):
    form = PhoneForm(
        request.POST or None,
        initial={"phone": request.session.get(PHONE_TO_CONFIRM) or request.user.phone or ""},
    )
    status = 200
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        if phone == request.user.phone:
            form.add_error("phone", _("This is already your phone number."))
        else:
            try:
                services.send_phone_code(request=request, phone=phone, purpose="phone-change")
            except CodeSentTooRecently as exc:
                if request.session.get(PHONE_CHANGE) != phone:
                    form.add_error(None, exc.message)
                    status = 429
            except AccountError as exc:
                form.add_error(None, exc.message)
                status = 429
        if not form.errors:
            request.session[PHONE_CHANGE] = phone
            request.session.pop(PHONE_TO_CONFIRM, None)
            messages.success(
                request, _("We texted a code to %(phone)s.") % {"phone": mask_phone(phone)}
            )
            return redirect("accounts:phone_change_verify")
    return render(
        request, "accounts/phone_start.html", {"form": form, "mode": "change"}, status=status
    )


@login_required
@require_http_methods(["GET", "POST"])
def phone_change_verify(request):
    phone = request.session.get(PHONE_CHANGE)
    if not phone:
        return redirect("accounts:phone_change")
    if request.method == "POST" and "resend" in request.POST:
        _resend(request, phone=phone, purpose="phone-change")
        return redirect("accounts:phone_change_verify")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            services.confirm_phone_change(
                user=request.user, phone=phone, code=form.cleaned_data["code"]
            )
        except CodeInvalid as exc:
            form.add_error("code", exc.message)
        except AccountError as exc:
            form.add_error(None, exc.message)
            status = 400
        else:
            request.session.pop(PHONE_CHANGE, None)
            messages.success(request, _("Your phone number has been confirmed."))
            return redirect("accounts:profile")
    return render(
        request,
        "accounts/phone_verify.html",
        {"form": form, "phone": mask_phone(phone), "mode": "change"},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    """Confirmed by the password; an account without one (made with a phone code) confirms
    with a code texted to its number instead."""
    if not request.user.has_usable_password() and request.user.phone:
        return _delete_account_by_code(request)
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and request.user.has_usable_password() and form.is_valid():
        services.delete_account(user=request.user)
        return _account_deleted(request)
    return render(request, "accounts/delete_account.html", {"form": form, "mode": "password"})


def _account_deleted(request):
    request.session.pop(DELETE_CODE_SENT, None)
    logout(request)
    messages.success(request, _("Your account has been deleted. Thank you for shopping with us."))
    return _forget_cookies(redirect("home"))


def _delete_account_by_code(request):
    user = request.user
    form = CodeForm(request.POST if request.method == "POST" and "code" in request.POST else None)
    error, status = "", 200
    resend = "resend" in request.POST
    if request.method == "POST" and ("send" in request.POST or resend):
        try:
            services.send_deletion_code(request=request, user=user)
        except CodeSentTooRecently as exc:
            # The first button pressed twice: the code it asked for is on its way.
            if resend or not request.session.get(DELETE_CODE_SENT):
                error, status = exc.message, 429
        except AccountError as exc:
            error, status = exc.message, 429
        if not error:
            request.session[DELETE_CODE_SENT] = True
            messages.success(
                request, _("We texted a code to %(phone)s.") % {"phone": mask_phone(user.phone)}
            )
            return redirect("accounts:delete_account")
    elif form.is_bound and form.is_valid():
        try:
            services.delete_account_with_code(user=user, code=form.cleaned_data["code"])
        except CodeInvalid as exc:
            form.add_error("code", exc.message)
        except AccountError as exc:
            form.add_error(None, exc.message)
            status = 400
        else:
            return _account_deleted(request)
    return render(
        request,
        "accounts/delete_account.html",
        {
            "form": form,
            "mode": "code",
            "code_sent": form.is_bound or bool(request.session.get(DELETE_CODE_SENT)),
            "error": error,
            "phone": mask_phone(user.phone),
        },
        status=status,
    )


# --- Addresses ---------------------------------------------------------------------------


@login_required
def address_list(request):
    addresses = selectors.addresses_for_user(user=request.user)
    return render(
        request,
        "accounts/address_list.html",
        {"addresses": addresses, "links": _account_links()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_create(request):
    form = AddressForm(
        request.POST or None,
        initial={"full_name": request.user.full_name, "phone": request.user.phone or ""},
    )
    if form.updating_country:
        form = form.for_new_country()
    elif request.method == "POST" and form.is_valid():
        services.create_address(
            user=request.user,
            fields=form.cleaned_data,
            make_default=form.cleaned_data.get("make_default", False),
        )
        messages.success(request, _("The address has been added."))
        return redirect("accounts:address_list")
    return render(request, "accounts/address_form.html", {"form": form, "address": None})


@login_required
@require_http_methods(["GET", "POST"])
def address_update(request, pk):
    address = selectors.get_address_for_user(pk=pk, user=request.user)
    form = AddressForm(request.POST or None, instance=address, show_make_default=False)
    if form.updating_country:
        form = form.for_new_country()
    elif request.method == "POST" and form.is_valid():
        services.update_address(address=address, fields=form.cleaned_data)
        messages.success(request, _("The address has been saved."))
        return redirect("accounts:address_list")
    return render(request, "accounts/address_form.html", {"form": form, "address": address})


@login_required
@require_http_methods(["GET", "POST"])
def address_delete(request, pk):
    address = selectors.get_address_for_user(pk=pk, user=request.user)
    if request.method == "POST":
        services.delete_address(address=address)
        messages.success(request, _("The address has been deleted."))
        return redirect("accounts:address_list")
    return render(request, "accounts/address_confirm_delete.html", {"address": address})


@login_required
@require_POST
def address_set_default(request, pk):
    address = selectors.get_address_for_user(pk=pk, user=request.user)
    services.set_default_address(address=address)
    messages.success(request, _("Your default shipping address has been changed."))
    return redirect("accounts:address_list")
